"""The Azure backend: Storage accounts, Service Bus, Event Hubs and Cosmos DB through the Azure SDKs
(extras, imported when a connection names one), and the parsing of their connection settings."""

# where the real host (and funchost on Azure) keeps Event Hubs checkpoints and ownership: blobs
# ``<namespace>/<hub>/<group>/checkpoint|ownership/<partition>`` of this container
EVENTHUB_CHECKPOINT_CONTAINER = "azure-webjobs-eventhub"
