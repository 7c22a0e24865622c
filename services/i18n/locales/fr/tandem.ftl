# Les textes de tandem en français. Mêmes messages et mêmes paramètres que en/.

## Common

language-name = Français
situation-title = Situation { $situation }
