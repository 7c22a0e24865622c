
unhcr-col-2026-02COL-VEN-2026 2è‚çÌ:COLBCO54X`hpz0 Ñ
2026-01-31"UNHCR registration (proGres)z0˜æ
2026-01-31"UNHCR registration (proGres)z7Àîm
2026-01-31"#Temporary Protection Statute (ETPV)ŠNWritten in lowerCamelCase on purpose: the JSON mapping accepts both spellings.