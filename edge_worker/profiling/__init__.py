"""Edge profiling: the deck's performance-per-watt protocol, run on the device for every variant it has.

    deck       the deck's arithmetic (FPS per watt, energy per image) and its published figures
    memory     the process's and device's memory, sampled in the background
    variants   what this device can run, and building each variant's engine
    protocol   the protocol runner (Profiler, profile_device) and the report's context
    tasks      the Celery task on `edge.<device id>`

The request and the report are messages: edge_worker.contracts.profiling.
"""
