"""Server plumbing shared by the API and the console: state, dependencies, errors."""
