"""How every flow is deployed: served from one process locally, on work pools when scaled out."""
