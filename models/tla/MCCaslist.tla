------------------------------ MODULE MCCaslist -----------------------------
(***************************************************************************)
(* Model-checking wrapper for Caslist.  The constants live in the .cfg     *)
(* files:                                                                  *)
(*                                                                         *)
(*   MCCaslist.cfg             the checker's defaults (3 threads, 2 slots, *)
(*                             2 operations each, cas_retries 2): holds    *)
(*   MCCaslistSmall.cfg        1 backend, 1 slot, 1 operation              *)
(*   MCCaslistTwoBackends.cfg  2 backends, 2 slots, 1 operation            *)
(*   MCCaslistNoTag.cfg        mutation no-tag (ABA): ExclusiveOwnership   *)
(*                             fails                                       *)
(*                                                                         *)
(* models/tla/manifest.json records the expected results and the           *)
(* checker's distinct-state counts.                                        *)
(***************************************************************************)
EXTENDS Caslist, TLC

(* 2^32 in C; TLC's integers stop at 2^31 - 1.  Only the start queue's    *)
(* counters live near the wrap, and they start SQ_RING below it whatever   *)
(* the word size: 2^16 renames their values and changes nothing else.      *)
MCWordModulus == 2^16

=============================================================================
