//! What a process used, read from Linux's `/proc`: processor time (for the time per report of
//! each process) and peak resident memory.

use crate::figures::ProcessFigure;

/// Processor time (user and system, every thread) a process has used so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces, hence the last ')'): utime and
    // stime are the 12th and 13th, in clock ticks of 1/100 s (Linux's USER_HZ).
    let ticks: f64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|field| field.parse::<f64>().ok())
                .sum()
        })
        .unwrap_or(0.0);
    ticks / 100.0
}

/// Peak resident memory (`VmHWM`) of a running process, MiB; 0 when it cannot be read.
pub fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(0.0);
    kib / 1024.0
}

/// A process measured: its name in the figures (`notify_iom`, `nats_server`) and its id.
pub struct Process {
    pub name: String,
    pub pid: u32,
}

impl Process {
    pub fn new(name: impl Into<String>, pid: u32) -> Self {
        Self {
            name: name.into(),
            pid,
        }
    }
}

/// Processor time per item, microseconds, of each process between two readings.
pub struct CpuMeter(Vec<(Process, f64)>);

impl CpuMeter {
    /// Takes the first reading.
    pub fn start(processes: Vec<Process>) -> Self {
        Self(
            processes
                .into_iter()
                .map(|process| {
                    let before = cpu_seconds(process.pid);
                    (process, before)
                })
                .collect(),
        )
    }

    /// Each process's processor time since [`CpuMeter::start`], divided among `items`.
    pub fn per_item(&self, items: usize) -> Vec<ProcessFigure> {
        self.0
            .iter()
            .map(|(process, before)| ProcessFigure {
                process: process.name.clone(),
                value: (cpu_seconds(process.pid) - before) * 1e6 / items.max(1) as f64,
            })
            .collect()
    }
}
