import nodicorn_test_missing_dependency  # noqa: F401

application = None
