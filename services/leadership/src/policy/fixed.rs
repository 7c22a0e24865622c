//! Exact decimal arithmetic for thresholds, shares and the numbers in rationale texts.
//!
//! The policy file gives thresholds as decimals (`0.80`), and a coordinator expects a share of
//! exactly 0.80 to be a refugee situation. Binary floating point cannot promise that (800/1000
//! is not exactly 0.8 as an `f64`), so nothing in the engine compares floats:
//!
//! - every policy decimal is held as an integer number of millionths ([`Ppm`]); a decimal with
//!   more than six places is refused when the policy is loaded;
//! - a ratio `num / den` is compared with a threshold `t / 10⁶` as `num · 10⁶` against
//!   `t · den`, in `u128`. Counts are `u64` and a sum covers at most ten groups, so `den < 2⁶⁸`
//!   and every product below stays under 2¹⁰⁰, far from overflow;
//! - the shares and percentages written into rationale texts are rounded so that the printed
//!   number lies on the same side of every threshold the text compares it with as the exact
//!   value does (so a text never reads "0.80 < 0.80"; it reads "0.7999 < 0.80").
//!
//! The `f64` fields of the determination (`protection_share`, `relative_difference`) are only
//! ever produced here for display to consumers, never compared.

use std::cmp::Ordering;

/// One million: the denominator of [`Ppm`].
const MILLION: u128 = 1_000_000;

/// `a / b` (with `b > 0`), on 64 bits when both fit: a `u128` division is a library call several
/// times slower, and real counts always fit.
fn div(a: u128, b: u128) -> u128 {
    match (u64::try_from(a), u64::try_from(b)) {
        (Ok(a), Ok(b)) => u128::from(a / b),
        _ => a / b,
    }
}

/// `a % b` (with `b > 0`), on 64 bits when both fit; see [`div`].
fn rem(a: u128, b: u128) -> u128 {
    match (u64::try_from(a), u64::try_from(b)) {
        (Ok(a), Ok(b)) => u128::from(a % b),
        _ => a % b,
    }
}

/// A non-negative decimal with at most six places, as an integer number of millionths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Ppm(pub(crate) u32);

impl Ppm {
    /// The decimal a TOML float stands for, when it has at most six decimal places and lies in
    /// `[0, 4000]` (far beyond any sensible policy value; it keeps the integer small).
    ///
    /// TOML parses `0.80` to the `f64` nearest 0.8; `800000 / 10⁶` computed in `f64` is that
    /// same nearest value, so the round trip below accepts exactly the decimals a person wrote
    /// with six places or fewer and refuses anything longer.
    #[expect(
        clippy::cast_sign_loss,
        clippy::float_cmp,
        reason = "the cast is in range by the check; the exact comparison is the round trip"
    )]
    pub(crate) fn from_decimal(value: f64) -> Option<Ppm> {
        if !value.is_finite() || !(0.0..=4000.0).contains(&value) {
            return None;
        }
        let scaled = (value * 1_000_000.0).round();
        // In range by the check above, so the cast neither truncates nor saturates.
        let millionths = scaled as u32;
        (f64::from(millionths) / 1_000_000.0 == value).then_some(Ppm(millionths))
    }

    /// `self + other`, saturating (only used on validated, small values).
    pub(crate) fn plus(self, other: Ppm) -> Ppm {
        Ppm(self.0.saturating_add(other.0))
    }

    /// `self − other`, floored at zero (only used on validated values where it cannot go below).
    pub(crate) fn minus(self, other: Ppm) -> Ppm {
        Ppm(self.0.saturating_sub(other.0))
    }

    /// Where the ratio `num / den` lies relative to this decimal: `Greater` when the ratio is
    /// larger. `den` must not be zero (callers handle an empty population first).
    pub(crate) fn ratio_vs(self, num: u128, den: u128) -> Ordering {
        (num * MILLION).cmp(&(u128::from(self.0) * den))
    }

    /// Writes the decimal with at least `min_decimals` places and no trailing zeros beyond them
    /// (`0.8` → `0.80` with two, `0.805` → `0.805`).
    pub(crate) fn write(self, out: &mut String, min_decimals: u32) {
        write_scaled(out, u128::from(self.0), 6, min_decimals);
    }

    /// Writes the decimal as a percentage without the sign (`0.25` → `25`, `0.125` → `12.5`).
    pub(crate) fn write_percent(self, out: &mut String) {
        write_scaled(out, u128::from(self.0), 4, 0);
    }
}

/// A policy decimal together with how texts print it, worked out once when the policy loads so
/// that filling a rationale text only copies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Shown {
    /// The decimal.
    pub(crate) value: Ppm,
    /// Its printed form: `0.80`, or `25` for a percentage.
    pub(crate) text: Box<str>,
}

impl Shown {
    /// A decimal printed with at least two places (`0.80`).
    pub(crate) fn decimal(value: Ppm) -> Shown {
        let mut text = String::new();
        value.write(&mut text, 2);
        Shown {
            value,
            text: text.into(),
        }
    }

    /// A decimal printed as a percentage without the sign (`25`).
    pub(crate) fn percent(value: Ppm) -> Shown {
        let mut text = String::new();
        value.write_percent(&mut text);
        Shown {
            value,
            text: text.into(),
        }
    }
}

/// Writes `value / 10^scale` with at least `min_decimals` places, trailing zeros trimmed beyond.
fn write_scaled(out: &mut String, value: u128, scale: u32, min_decimals: u32) {
    let unit = 10u128.pow(scale);
    write_digits(out, div(value, unit));
    let mut fraction = rem(value, unit);
    let mut places = scale;
    while places > min_decimals && rem(fraction, 10) == 0 {
        fraction = div(fraction, 10);
        places -= 1;
    }
    if places > 0 {
        out.push('.');
        write_padded(out, fraction, places);
    }
}

/// The decimal digits of `value`, right-aligned in a stack buffer (39 digits hold any `u128`;
/// no formatting machinery), and where they start.
fn digits(value: u128) -> ([u8; 39], usize) {
    let mut buffer = [b'0'; 39];
    let mut at = buffer.len();
    if let Ok(mut rest) = u64::try_from(value) {
        // The common case, where division by 10 compiles to a multiplication.
        loop {
            at -= 1;
            buffer[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
    } else {
        let mut rest = value;
        loop {
            at -= 1;
            buffer[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
    }
    (buffer, at)
}

/// Appends ASCII bytes in one copy. Only digits, commas and dots are ever passed, so the UTF-8
/// check (cheap on a few bytes) never fails.
fn push_ascii(out: &mut String, bytes: &[u8]) {
    out.push_str(std::str::from_utf8(bytes).unwrap_or_default());
}

/// Writes `value` in decimal digits.
pub(crate) fn write_digits(out: &mut String, value: u128) {
    let (buffer, at) = digits(value);
    push_ascii(out, &buffer[at..]);
}

/// Writes `value` as exactly `width` digits, zero-padded on the left.
fn write_padded(out: &mut String, value: u128, width: u32) {
    let (buffer, at) = digits(value);
    let start = buffer.len().saturating_sub(width as usize).min(at);
    push_ascii(out, &buffer[start..]);
}

/// Writes a count with thousands separators (`1234567` → `1,234,567`), as a person reads it.
pub(crate) fn write_count(out: &mut String, value: u128) {
    let (buffer, at) = digits(value);
    let digits = &buffer[at..];
    // 39 digits and 12 separators at most.
    let mut grouped = [0u8; 51];
    let mut len = 0;
    for (index, &digit) in digits.iter().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped[len] = b',';
            len += 1;
        }
        grouped[len] = digit;
        len += 1;
    }
    push_ascii(out, &grouped[..len]);
}

/// Writes `num / den × 10^shift` (`shift` 0 for a share, 2 for a percentage) with the fewest
/// decimal places, at least `min_decimals`, that keep the printed number on the same side of
/// every threshold in `thresholds` (and equal to one only when the exact value is).
///
/// Ordinary values print at `min_decimals` after one try. Thresholds have at most six places, so
/// from `7 − shift` places on, rounding down or up always gives a consistent number, and the
/// loop ends there at the latest. `den == 0` prints zero.
pub(crate) fn write_ratio(
    out: &mut String,
    num: u128,
    den: u128,
    shift: u32,
    min_decimals: u32,
    thresholds: &[Ppm],
) {
    if den == 0 {
        write_scaled_fixed(out, 0, min_decimals);
        return;
    }
    let last = (7u32.saturating_sub(shift)).max(min_decimals);
    let mut chosen = None;
    for places in min_decimals..=last {
        let unit = 10u128.pow(places + shift);
        let scaled = num * unit;
        let floor = div(scaled, den);
        let ceil = floor + u128::from(rem(scaled, den) != 0);
        let nearest = div(2 * scaled + den, 2 * den);
        let consistent = |shown: u128| {
            thresholds.iter().all(|threshold| {
                // The printed value is `shown / unit` of the raw ratio.
                (shown * MILLION).cmp(&(u128::from(threshold.0) * unit))
                    == threshold.ratio_vs(num, den)
            })
        };
        // Prefer the nearest value; once the places reach the thresholds' precision, a
        // directed rounding is the honest one when the nearest would cross a threshold.
        let directed = places + shift >= 6;
        let candidates = if directed {
            [nearest, floor, ceil]
        } else {
            [nearest; 3]
        };
        if let Some(shown) = candidates.into_iter().find(|shown| consistent(*shown)) {
            chosen = Some((shown, places));
            break;
        }
        if places == last {
            chosen = Some((nearest, places));
        }
    }
    let (shown, places) = chosen.unwrap_or((0, min_decimals));
    write_scaled_fixed(out, shown, places);
}

/// Writes `value / 10^places` with exactly `places` decimals.
fn write_scaled_fixed(out: &mut String, value: u128, places: u32) {
    let unit = 10u128.pow(places);
    write_digits(out, div(value, unit));
    if places > 0 {
        out.push('.');
        write_padded(out, rem(value, unit), places);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratio(num: u128, den: u128, shift: u32, min: u32, thresholds: &[Ppm]) -> String {
        let mut out = String::new();
        write_ratio(&mut out, num, den, shift, min, thresholds);
        out
    }

    #[test]
    fn decimals_round_trip_exactly_and_long_ones_are_refused() {
        assert_eq!(Ppm::from_decimal(0.80), Some(Ppm(800_000)));
        assert_eq!(Ppm::from_decimal(0.2), Some(Ppm(200_000)));
        assert_eq!(Ppm::from_decimal(0.05), Some(Ppm(50_000)));
        assert_eq!(Ppm::from_decimal(0.123456), Some(Ppm(123_456)));
        assert_eq!(Ppm::from_decimal(0.0), Some(Ppm(0)));
        assert_eq!(Ppm::from_decimal(0.1234567), None);
        assert_eq!(Ppm::from_decimal(1.0 / 3.0), None);
        assert_eq!(Ppm::from_decimal(-0.1), None);
        assert_eq!(Ppm::from_decimal(f64::NAN), None);
        assert_eq!(Ppm::from_decimal(f64::INFINITY), None);
    }

    #[test]
    fn ratio_comparison_is_exact_at_the_boundary() {
        let threshold = Ppm(800_000);
        assert_eq!(threshold.ratio_vs(800, 1000), Ordering::Equal);
        assert_eq!(threshold.ratio_vs(4, 5), Ordering::Equal);
        assert_eq!(threshold.ratio_vs(799_999, 1_000_000), Ordering::Less);
        assert_eq!(threshold.ratio_vs(800_001, 1_000_000), Ordering::Greater);
        // Largest possible sums do not overflow.
        let big = u128::from(u64::MAX) * 10;
        assert_eq!(Ppm(1_000_000).ratio_vs(big, big), Ordering::Equal);
    }

    #[test]
    fn printed_shares_never_contradict_the_comparison() {
        let threshold = [Ppm(800_000)];
        assert_eq!(ratio(830, 1000, 0, 2, &threshold), "0.83");
        assert_eq!(ratio(800, 1000, 0, 2, &threshold), "0.80");
        assert_eq!(ratio(7999, 10_000, 0, 2, &threshold), "0.7999");
        assert_eq!(ratio(8001, 10_000, 0, 2, &threshold), "0.8001");
        // Closer than the thresholds' precision: a directed rounding keeps the side.
        assert_eq!(
            ratio(799_999_999, 1_000_000_000, 0, 2, &threshold),
            "0.799999"
        );
        assert_eq!(
            ratio(800_000_001, 1_000_000_000, 0, 2, &threshold),
            "0.800001"
        );
        // Between two thresholds, both sides hold.
        let both = [Ppm(200_000), Ppm(800_000)];
        assert_eq!(ratio(2_000_001, 10_000_000, 0, 2, &both), "0.200001");
        assert_eq!(ratio(1, 3, 0, 2, &both), "0.33");
        assert_eq!(ratio(0, 0, 0, 2, &both), "0.00");
        assert_eq!(ratio(5, 100, 0, 2, &both), "0.05");
        // Beyond 64 bits the same arithmetic holds.
        let big = u128::from(u64::MAX) * 3;
        assert_eq!(ratio(big, big * 2, 0, 2, &both), "0.50");
    }

    #[test]
    fn percentages_and_counts_read_naturally() {
        let tolerance = [Ppm(250_000)];
        assert_eq!(ratio(500, 1500, 2, 0, &tolerance), "33");
        assert_eq!(ratio(2501, 10_000, 2, 0, &tolerance), "25.01");
        assert_eq!(ratio(1, 4, 2, 0, &tolerance), "25");
        let mut out = String::new();
        write_count(&mut out, 1_234_567);
        out.push(' ');
        write_count(&mut out, 999);
        out.push(' ');
        write_count(&mut out, 0);
        out.push(' ');
        Ppm(800_000).write(&mut out, 2);
        out.push(' ');
        Ppm(805_000).write(&mut out, 2);
        out.push(' ');
        Ppm(250_000).write_percent(&mut out);
        out.push(' ');
        Ppm(125_000).write_percent(&mut out);
        out.push(' ');
        Ppm(1_050_000).write(&mut out, 2);
        out.push(' ');
        write_count(&mut out, u128::from(u64::MAX) * 10);
        assert_eq!(
            out,
            "1,234,567 999 0 0.80 0.805 25 12.5 1.05 184,467,440,737,095,516,150"
        );
    }
}
