"""Shop-floor ingestion: MQTT readings, scans and events, OPC UA data changes, scanning stations.

Each source parses what a machine or scanner sends, writes it in batches and acknowledges it
only after the commit; see :mod:`.mqtt`, :mod:`.opcua`, :mod:`.scans` and :mod:`.readings`.
"""
