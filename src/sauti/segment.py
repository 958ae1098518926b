"""`python -m sauti.segment --config exp.ini`: Nkululeko's segment module, as `sauti segment` (sauti.app.nk_commands)."""

if __name__ == "__main__":
    from sauti.app.nk_commands import module_main

    module_main("segment")
