"""`python -m sauti.aug_train --config exp.ini`: Nkululeko's aug_train module, as `sauti aug_train` (sauti.app.cli)."""

if __name__ == "__main__":
    from sauti.app.cli import module_main

    module_main("aug_train")
