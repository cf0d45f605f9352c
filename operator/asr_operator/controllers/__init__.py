"""kopf glue: handlers, timers, finalizers and events. No business rules here."""
