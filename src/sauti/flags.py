"""`python -m sauti.flags --config exp.ini`: Nkululeko's flags module, as `sauti flags` (sauti.app.nk_commands)."""

if __name__ == "__main__":
    from sauti.app.nk_commands import module_main

    module_main("flags")
