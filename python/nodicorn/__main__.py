"""`python -m nodicorn APP [flags]`: the same as the `nodicorn` console script."""
from nodicorn.launcher import main

if __name__ == "__main__":
    main()
