//! The garbage collector: ownerReferences drive cascading deletion.
