"""prokopim's development stack: find or start PostgreSQL and a closed NATS bus.

Used by `prokopim up` and by the test fixtures (never by a service): see :mod:`.infra`
for where the servers come from and :mod:`.bus` for the NATS users and their config.
"""
