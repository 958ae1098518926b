"""`python -m sauti.augment --config exp.ini`: Nkululeko's augment module, as `sauti augment` (sauti.app.nk_commands)."""

if __name__ == "__main__":
    from sauti.app.nk_commands import module_main

    module_main("augment")
