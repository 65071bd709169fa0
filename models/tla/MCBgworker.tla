----------------------------- MODULE MCBgworker -----------------------------
(***************************************************************************)
(* Model-checking wrapper for Bgworker.  The constants live in the .cfg    *)
(* files:                                                                  *)
(*                                                                         *)
(*   MCBgworker.cfg             the checker's defaults (3 threads, 2      *)
(*                              slots, 2 operations each): all holds       *)
(*   MCBgworkerSmall.cfg        1 backend, 1 slot, 1 operation             *)
(*   MCBgworkerTwoBackends.cfg  2 backends, 2 slots, 1 operation           *)
(*                                                                         *)
(* The model's mutations are bugs only under weaker memory models: there   *)
(* is no failing configuration.  models/tla/manifest.json records the      *)
(* checker's distinct-state counts.                                        *)
(***************************************************************************)
EXTENDS Bgworker, TLC

(* 2^32 in C; TLC's integers stop at 2^31 - 1.  The only counters are the  *)
(* slots' generations, which never come near either bound here.            *)
MCWordModulus == 2^16

=============================================================================
