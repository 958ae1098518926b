"""`python -m sauti.optim --config exp.ini`: Nkululeko's optim module, as `sauti optim` (sauti.app.cli)."""

if __name__ == "__main__":
    from sauti.app.cli import module_main

    module_main("optim")
