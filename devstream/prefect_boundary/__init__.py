"""Everything dtm's core says to a Prefect server, over its REST API: the one place that does.

Why REST instead of `import prefect`: start-up time. Importing prefect costs about two seconds before any
work (2.2-2.8 s wall time here on a loaded 2-core machine, against 0.22 s for httpx, which the core loads
anyway), measured with

    /usr/bin/time -f %e python -c 'import prefect'      # and: python -c 'import httpx'
    python -X importtime -c 'import prefect' 2>&1 | sort -t'|' -k2 -n | tail   # where it goes

`dtm plan`, `dtm state ...`, `dtm server status` and a state read must not pay that, so the core never
imports prefect (tests/test_layout.py checks it); only flows/ and tasks/ do, when a flow runs. What the
core needs from the server, it asks with a few plain HTTP calls:

    rest.py            PrefectApi: JSON calls with Prefect's own retry rules, errors that say what to check
    state_store.py     the `prefect` state backend: one artifact per record
    lease.py           its lock: a global concurrency limit held through a renewed lease
    lease_limit.py     the REST calls under that lock (the limit, its lease, the holder Variable)
    server.py          dtm's local Prefect server: started once in the background, found, stopped
    server_env.py      the settings that server runs with, and why
    server_watch.py    whether the server a run uses is still there (`/health`)

No other module of the core speaks HTTP to Prefect (tests/test_layout.py checks that too); the CLI's
`dtm server start|stop|status` (devstream/cli/server_cmds.py) calls into server.py.
"""
