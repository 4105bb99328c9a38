"""Which provider a connection selects, judged by the connection's shape."""

from __future__ import annotations

import pytest

from funchost.config import AppSettings
from funchost.storage.auto import StorageResolver
from funchost.storage.azure.connection import BROKER, DOCUMENTS, STORAGE, identity_service_of, service_of
from funchost.storage.roles import DocumentStore, EventHubs, ServiceBusStore, StorageError, StorageProvider


@pytest.mark.parametrize(
    ("value", "service"),
    [
        ("UseDevelopmentStorage=true", STORAGE),
        ("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net", STORAGE),
        ("BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;SharedAccessSignature=sv=x", STORAGE),
        ("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v", BROKER),
        ("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v;EntityPath=hub", BROKER),
        ("AccountEndpoint=https://acct.documents.azure.com:443/;AccountKey=a2V5;", DOCUMENTS),
        ("not a connection string", None),
    ],
)
def test_a_connection_string_is_recognised_by_its_shape(value, service):
    assert service_of(value) == service


def test_identity_based_connections_are_recognised_by_their_suffix():
    settings = AppSettings(
        {
            "Bus__fullyQualifiedNamespace": "ns.servicebus.windows.net",
            "Docs__accountEndpoint": "https://acct.documents.azure.com",
            "Store__accountName": "acct",
            "Other:serviceUri": "https://acct.blob.core.windows.net",
        }
    )
    assert identity_service_of("Bus", settings) == BROKER
    assert identity_service_of("Docs", settings) == DOCUMENTS
    assert identity_service_of("Store", settings) == STORAGE
    assert identity_service_of("Other", settings) == STORAGE
    assert identity_service_of("Missing", settings) is None


def test_a_storage_binding_on_another_kind_of_connection_is_a_clear_error(tmp_path):
    settings = AppSettings(
        {
            "Bus": "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v",
            "Docs__accountEndpoint": "https://acct.documents.azure.com",
        }
    )
    resolver = StorageResolver(tmp_path, settings)
    with pytest.raises(StorageError, match="The connection 'Bus' names a Service Bus or Event Hubs namespace"):
        resolver.resolve(StorageProvider, "Bus")
    with pytest.raises(StorageError, match="names a Cosmos DB account"):
        resolver.resolve(StorageProvider, "Docs")
    assert resolver.resolve(StorageProvider, None).name == "embedded"


BUS = "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v"


def test_service_bus_and_event_hubs_connections_choose_the_embedded_broker_or_a_real_namespace(tmp_path):
    from funchost.storage.azure.eventhubs import EventHubsNamespace
    from funchost.storage.azure.servicebus import ServiceBusNamespace
    from funchost.storage.embedded.broker import EmbeddedBroker

    settings = AppSettings(
        {
            "Bus": BUS,
            "Identity__fullyQualifiedNamespace": "ns.servicebus.windows.net",
            "Store": "UseDevelopmentStorage=true",
            "Empty": "",
            "Junk": "not=a;broker",
        }
    )
    resolver = StorageResolver(tmp_path, settings)
    assert isinstance(resolver.resolve(ServiceBusStore, None), EmbeddedBroker)  # AzureWebJobsServiceBus unset
    assert isinstance(resolver.resolve(ServiceBusStore, "Empty"), EmbeddedBroker)
    assert resolver.resolve(EventHubs, "Missing") is resolver.resolve(ServiceBusStore, None)  # type: ignore[comparison-overlap]  # one embedded broker
    bus = resolver.resolve(ServiceBusStore, "Bus")
    assert isinstance(bus, ServiceBusNamespace) and bus.connection_string == BUS
    assert resolver.resolve(ServiceBusStore, "Bus") is bus
    assert isinstance(resolver.resolve(EventHubs, "Bus"), EventHubsNamespace)
    identity = resolver.resolve(ServiceBusStore, "Identity")
    assert isinstance(identity, ServiceBusNamespace) and identity.namespace == "ns.servicebus.windows.net"
    with pytest.raises(StorageError, match="The connection 'Store' names a storage account, not a Service Bus"):
        resolver.resolve(ServiceBusStore, "Store")
    with pytest.raises(StorageError, match="The connection 'Junk' is not a Service Bus or Event Hubs connection"):
        resolver.resolve(EventHubs, "Junk")
    forced = StorageResolver(tmp_path, AppSettings({"Bus": BUS, "FUNCHOST_STORAGE": "embedded"}))
    assert isinstance(forced.resolve(ServiceBusStore, "Bus"), EmbeddedBroker)


def test_cosmos_connections_choose_the_embedded_store_or_a_real_account(tmp_path):
    from funchost.storage.azure.cosmos import CosmosAccount
    from funchost.storage.embedded.documents import EmbeddedDocuments

    settings = AppSettings(
        {
            "Cosmos": "AccountEndpoint=https://acct.documents.azure.com:443/;AccountKey=a2V5;",
            "Ident__accountEndpoint": "https://acct.documents.azure.com",
            "Bus": BUS,
        }
    )
    resolver = StorageResolver(tmp_path, settings)
    assert isinstance(resolver.resolve(DocumentStore, None), EmbeddedDocuments)
    assert isinstance(resolver.resolve(DocumentStore, "Unset"), EmbeddedDocuments)
    real = resolver.resolve(DocumentStore, "Cosmos")
    assert isinstance(real, CosmosAccount) and resolver.resolve(DocumentStore, "Cosmos") is real
    assert isinstance(resolver.resolve(DocumentStore, "Ident"), CosmosAccount)
    with pytest.raises(StorageError, match="The connection 'Bus' names a Service Bus or Event Hubs namespace, not a"):
        resolver.resolve(DocumentStore, "Bus")
    forced = StorageResolver(
        tmp_path, AppSettings({"Cosmos": "AccountEndpoint=https://x/;AccountKey=a2V5;", "FUNCHOST_STORAGE": "embedded"})
    )
    assert isinstance(forced.resolve(DocumentStore, "Cosmos"), EmbeddedDocuments)
