//! Store tests for inquiries, clients, events and the inquiry writer.
