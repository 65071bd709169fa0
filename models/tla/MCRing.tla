------------------------------ MODULE MCRing ------------------------------
(***************************************************************************)
(* Model-checking wrapper for Ring.  The constants live in the .cfg files: *)
(*                                                                         *)
(*   MCRing.cfg               the checker's defaults (3 threads, 2 slots,  *)
(*                            2 operations each): every property holds     *)
(*   MCRingSmall.cfg          1 backend, 1 slot, 1 operation               *)
(*   MCRingTwoBackends.cfg    2 backends, 1 slot, 1 operation              *)
(*   MCRingNoLock.cfg         mutation no-lock: ExclusiveOwnership fails   *)
(*   MCRingEmptyOffByOne.cfg  mutation empty-off-by-one: QueueIntegrity    *)
(*                            fails                                        *)
(*                                                                         *)
(* models/tla/manifest.json records, for each .cfg, the expected result    *)
(* and the distinct-state count of `checker explore ring --memory-model    *)
(* sc` with the same constants.                                            *)
(***************************************************************************)
EXTENDS Ring, TLC

(* C's words are 32 bits, but TLC's integers stop at 2^31 - 1.  The ring   *)
(* logic only needs the word size to be a power of two larger than every  *)
(* distance between counters, and the counters start RING below the wrap  *)
(* whatever the word size, so 2^16 gives the same state graph with smaller *)
(* numbers: the counter values are renamed, nothing else changes.          *)
MCWordModulus == 2^16

=============================================================================
