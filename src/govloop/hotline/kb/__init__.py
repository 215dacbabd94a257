"""The hotline's knowledge base (知识库): articles, review and publication, search."""
