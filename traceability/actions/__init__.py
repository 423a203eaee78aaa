"""Every write of the traceability domain. One transaction each, with the acting user, and the audit record
written inside that same transaction.

Actions validate (`full_clean`), save, append to the audit trail and schedule live events after commit. They
compose: an action called inside another action's transaction joins it.

One module per sub-domain; every public name is re-exported here, so callers write
`from traceability import actions` and `actions.register_part(...)` without knowing where it lives:

- `common`: who acts (`Actor`, `signed_in_user`), the audited view of a record (`snapshot`), final part states
- `records`: master data through the audit trail (`save_record`, `delete_record`, `correct_record`)
- `lots`: material lots (`receive_lot`, `split_lot`, `merge_lots`, `set_lot_status`)
- `parts`: batches and parts (`create_batch`, `register_part`, `consume_lot`, `assemble_component`, `set_part_status`)
- `stations`: station events (`record_station_entry`, `record_station_exit`)
- `pallets`: GS1 pallets (`create_pallet`, `pack_part`, `pack_parts`, `close_pallet`, `ship_pallet`)
- `failure_cases`: non-conformances (`open_failure_case`, `assign_failure_case`), decided by signature
  (`decide_failure_case`, `countersign_failure_case`, `await_countersignature`; `disposition_failure_case` is the
  step every signed path shares)
- `drawings`: part types and drawing revisions (`create_part_type`, `revise_drawing`)
- `esign`: the one signing path (`esign.authenticate_signer`, `esign.sign_record`, `esign.set_signing_pin`)
- `history`: bulk history imports (`HistoricalPart`, `import_production_history`)
- `containment`: suspect lots and the parts they hold (`contain_lot`, `release_containment`)

Reads the actions need (which containments hold a part, ...) are selectors (`traceability/selectors.py`).
"""

from __future__ import annotations

from traceability.actions.common import (
    FINAL_PART_STATES,
    Actor,
    signed_in_user,
    snapshot,
)
from traceability.actions.containment import (
    ContainmentRelease,
    contain_lot,
    release_containment,
)
from traceability.actions.drawings import FeatureInput, create_part_type, feature_inputs, revise_drawing
from traceability.actions.failure_cases import (
    DISPOSITION_PART_STATUS,
    assign_failure_case,
    await_countersignature,
    countersign_failure_case,
    decide_failure_case,
    disposition_failure_case,
    open_failure_case,
    register_countersignature_check,
)
from traceability.actions.history import HistoricalPart, import_production_history
from traceability.actions.lots import merge_lots, receive_lot, set_lot_status, split_lot
from traceability.actions.pallets import (
    PACKABLE_STATES,
    close_pallet,
    create_pallet,
    pack_part,
    pack_parts,
    ship_pallet,
)
from traceability.actions.parts import (
    assemble_component,
    consume_lot,
    create_batch,
    register_part,
    set_part_status,
)
from traceability.actions.records import correct_record, delete_record, save_record
from traceability.actions.stations import record_station_entry, record_station_exit

__all__ = [
    # common
    "Actor",
    "FINAL_PART_STATES",
    "signed_in_user",
    "snapshot",
    # records
    "correct_record",
    "delete_record",
    "save_record",
    # lots
    "merge_lots",
    "receive_lot",
    "set_lot_status",
    "split_lot",
    # parts
    "assemble_component",
    "consume_lot",
    "create_batch",
    "register_part",
    "set_part_status",
    # stations
    "record_station_entry",
    "record_station_exit",
    # pallets
    "PACKABLE_STATES",
    "close_pallet",
    "create_pallet",
    "pack_part",
    "pack_parts",
    "ship_pallet",
    # failure cases
    "DISPOSITION_PART_STATUS",
    "assign_failure_case",
    "await_countersignature",
    "countersign_failure_case",
    "decide_failure_case",
    "disposition_failure_case",
    "open_failure_case",
    "register_countersignature_check",
    # history
    "HistoricalPart",
    "import_production_history",
    # drawings
    "FeatureInput",
    "create_part_type",
    "feature_inputs",
    "revise_drawing",
    # containment
    "ContainmentRelease",
    "contain_lot",
    "release_containment",
]
