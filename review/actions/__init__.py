"""Debug Mode writes, one module per concern: claims, signing, verdicts (and countersignatures) and the cobot.
Each write is one transaction with its audit records inside; tasks and live events leave after commit."""
