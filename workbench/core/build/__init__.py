"""Engine builds: profiles in, an engine out, in an isolated child; trial builds; error mapping."""
