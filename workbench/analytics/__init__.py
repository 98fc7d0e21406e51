"""Analytics over the request log, one subpackage per concern.

``replay`` (logged traffic against a candidate policy), ``evaluation`` (guardrails on
labelled data), ``cost``, ``anomalies``. Import the subpackage you need; nothing heavy
is imported here.
"""
