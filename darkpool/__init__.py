"""The ``darkpool`` command: dispatches to the operator, client, oracle and demo programs."""
