"""The trader's side: the REST SDK (``client.sdk``) and ``darkpool trader`` (``client.cli``).

Imports only ``verifier`` of the project: a trader needs neither the prover
(node) nor the operator's service stack to sign, seal, submit and check.
"""
