"""The Azure backend: Storage accounts, Service Bus, Event Hubs and Cosmos DB through the Azure SDKs
(extras, imported when a connection names one), and the parsing of their connection settings."""
