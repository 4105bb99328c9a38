"""The embedded backend: SQLite (WAL) plus files under the app's .funchost/storage, zero set-up."""
