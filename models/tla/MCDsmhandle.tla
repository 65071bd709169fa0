---------------------------- MODULE MCDsmhandle ----------------------------
(***************************************************************************)
(* Model-checking wrapper for Dsmhandle.  The constants live in the .cfg   *)
(* files:                                                                  *)
(*                                                                         *)
(*   MCDsmhandle.cfg                 the checker's defaults (3 threads, 2  *)
(*                                   items, 2 segments each, 10           *)
(*                                   generation bits): all holds           *)
(*   MCDsmhandleSmall.cfg            1 backend, 1 item, 2 segments         *)
(*   MCDsmhandleTwoBackends.cfg      2 backends, 2 items, 1 segment each   *)
(*   MCDsmhandleNoGeneration.cfg     mutation no-generation:               *)
(*                                   StaleHandleRefused fails              *)
(*   MCDsmhandleAttachMoribund.cfg   mutation attach-moribund:             *)
(*                                   RefcountConservation fails            *)
(*   MCDsmhandleOneGenerationBit.cfg GEN_BITS = 1 (the generation wraps at *)
(*                                   once): StaleHandleRefused fails       *)
(*                                                                         *)
(* models/tla/manifest.json records the checker's distinct-state counts.  *)
(* No word wraps here (the ring's counters grow by at most twice the      *)
(* segments created), so no word size is needed.                          *)
(***************************************************************************)
EXTENDS Dsmhandle, TLC

=============================================================================
