"""Make the shared fixtures (real PostgreSQL and NATS, one database and namespace per test)
available to every test in the repository: tests/, libs/*/tests and services/*/tests."""

pytest_plugins = ("prokopim_testing.fixtures", "prokopim_testing.process_logs")
