# tandem's texts in English. Every message here exists in fr/ and es/ with the same
# placeholders (checked by services/i18n's tests). Sections keep each area's messages together.

## Common

language-name = English
situation-title = Situation { $situation }
