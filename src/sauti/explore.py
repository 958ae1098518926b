"""`python -m sauti.explore --config exp.ini`: Nkululeko's explore module, as `sauti explore` (sauti.app.nk_commands)."""

if __name__ == "__main__":
    from sauti.app.nk_commands import module_main

    module_main("explore")
