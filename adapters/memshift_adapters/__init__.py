"""Built-in memshift adapters. Empty on purpose: each adapter is registered only through its
entry point in the project's pyproject.toml, exactly like a third-party plugin."""
