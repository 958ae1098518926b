"""`python -m sauti.flags --config exp.ini`: Nkululeko's flags module, as `sauti flags` (sauti.app.cli)."""

if __name__ == "__main__":
    from sauti.app.cli import module_main

    module_main("flags")
