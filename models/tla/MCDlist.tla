------------------------------- MODULE MCDlist -------------------------------
(***************************************************************************)
(* Model-checking wrapper for Dlist.  The constants live in the .cfg       *)
(* files:                                                                  *)
(*                                                                         *)
(*   MCDlist.cfg                 the checker's defaults (3 threads, 2      *)
(*                               slots, 2 operations each): all holds      *)
(*   MCDlistSmall.cfg            1 backend, 1 slot, 1 operation            *)
(*   MCDlistTwoBackends.cfg      2 backends, 2 slots, 1 operation          *)
(*   MCDlistNoLock.cfg           mutation no-lock: ExclusiveOwnership      *)
(*                               fails                                     *)
(*   MCDlistRefillKeepsFlag.cfg  mutation refill-keeps-flag:               *)
(*                               ExclusiveOwnership fails                  *)
(*                                                                         *)
(* models/tla/manifest.json records the expected results and the           *)
(* checker's distinct-state counts.                                        *)
(***************************************************************************)
EXTENDS Dlist, TLC

(* 2^32 in C; TLC's integers stop at 2^31 - 1.  Only the start queue's    *)
(* counters live near the wrap, and they start SQ_RING below it whatever   *)
(* the word size: 2^16 renames their values and changes nothing else.      *)
MCWordModulus == 2^16

=============================================================================
