"""Query grammars the embedded stores evaluate: OData table filters and Cosmos DB SQL."""
