
nrc-ukr-solutions-01UKR-DNIPRO-SOLUTIONS *nrc2°«ÁÌ:UKRBUA12RDnipropetrovska oblastX`hz2à’
2026-01-31"Area-based solutions profilingz%
2026-01-31"Pilot return survey