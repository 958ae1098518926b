"""`python -m sauti.aug_train --config exp.ini`: Nkululeko's aug_train module, as `sauti aug_train` (sauti.app.nk_commands)."""

if __name__ == "__main__":
    from sauti.app.nk_commands import module_main

    module_main("aug_train")
