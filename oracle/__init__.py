"""The price oracle: its own component, key and clock (imports only ``verifier``).

``feed`` (where prices come from: ``PriceFeed``, ``SimulatedFeed``),
``signer`` (``OracleReport``, the ``Oracle`` interface the operator uses,
``OracleSigner``), ``service`` (the oracle's key directory and clock), ``app``
and ``cli`` (``darkpool oracle serve``, a separate HTTP process) and
``client`` (``HttpOracle``, how the operator fetches signed reports).
"""
