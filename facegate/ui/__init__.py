"""The desktop app (PySide6). It draws what the pipeline emits and never does recognition work itself."""
