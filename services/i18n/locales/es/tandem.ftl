# Los textos de tandem en español. Los mismos mensajes y parámetros que en/.

## Common

language-name = Español
situation-title = Situación { $situation }
