"""`python -m sauti.optim --config exp.ini`: Nkululeko's optim module, as `sauti optim` (sauti.app.nk_commands)."""

if __name__ == "__main__":
    from sauti.app.nk_commands import module_main

    module_main("optim")
