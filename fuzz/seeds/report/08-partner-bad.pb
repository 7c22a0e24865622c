
ngo-draft 7COL-VEN-2026 *nrc2 §ëÌ:COX`hzè
2026-02-30"
field teamz°	
2026-02-20"
field teamŠRDraft. Call the field lead on +57 310 555 0123 or write to field.lead@example.org.