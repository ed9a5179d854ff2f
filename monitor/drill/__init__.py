"""Drills in a network-namespace lab (issue 7): carrier links that really go down, lose packets
and hang, with netmon in its own namespace routed through them. Root only."""
