-- The producer/consumer ring of pcring.py, in Murphi, for a side-by-side
-- with Rumur (docs/performance.md, `python -m checker.docs_tables --only peers`).
--
-- Written rule for rule like the checker's model and pcring.pml: every rule
-- is one access to shared memory and the local code that follows it up to
-- the next access, and a local the checker's liveness analysis would zero is
-- zeroed here too, so the unreduced state and rule counts are the checker's.
-- A failed test-and-set and a read of a full ring are rules that lead back
-- to the same state, as they are steps in the checker.  The consumers are a
-- scalarset: nothing tells them apart, so Rumur's symmetry reduction applies.
-- A finished run has no enabled rule, hence --deadlock-detection off.
--
--   rumur --deadlock-detection off --symmetry-reduction off pcring.m -o pcring.c
--   gcc -O2 -o pcring pcring.c -lpthread && ./pcring
--
-- checker/bench_peers.py rewrites the three constants for other sizes.

const
  SLOTS: 4;
  PUSHES: 16;
  CONSUMERS: 4;

type
  Consumer: scalarset(CONSUMERS);
  Count: 0..PUSHES;
  ProducerPc: enum { P_READ_TAIL, P_WRITE_RING, P_WRITE_HEAD, P_DONE };
  ConsumerPc: enum { C_LOCK, C_READ_TAIL, C_READ_HEAD, C_READ_ENTRY, C_WRITE_TAIL, C_RELEASE, C_DONE };
  ConsumerState: record
    pc: ConsumerPc;
    t: Count;       -- the tail this consumer read (zero when dead)
    got: Count;     -- values taken: distinguishes the consumers' histories
    done: boolean;
  end;

var
  ring: array [0..SLOTS-1] of Count;
  head: Count;
  tail: Count;
  lock: boolean;
  ppc: ProducerPc;
  h: Count;
  cons: array [Consumer] of ConsumerState;

startstate
begin
  for i: 0..SLOTS-1 do ring[i] := 0; endfor;
  head := 0;
  tail := 0;
  lock := false;
  ppc := P_READ_TAIL;
  h := 0;
  for c: Consumer do
    cons[c].pc := C_LOCK;
    cons[c].t := 0;
    cons[c].got := 0;
    cons[c].done := false;
  endfor;
endstartstate;

rule "producer reads tail"
  ppc = P_READ_TAIL ==>
begin
  if h - tail < SLOTS then
    ppc := P_WRITE_RING;
  endif;  -- full: try again, the same state
endrule;

rule "producer writes the entry"
  ppc = P_WRITE_RING ==>
begin
  ring[h % SLOTS] := h + 1;
  ppc := P_WRITE_HEAD;
endrule;

rule "producer publishes head"
  ppc = P_WRITE_HEAD ==>
begin
  head := h + 1;
  if h + 1 < PUSHES then
    h := h + 1;
    ppc := P_READ_TAIL;
  else
    h := 0;
    ppc := P_DONE;
  endif;
endrule;

ruleset c: Consumer do

  rule "consumer test-and-set"
    cons[c].pc = C_LOCK ==>
  begin
    if !lock then
      lock := true;
      cons[c].pc := C_READ_TAIL;
    endif;  -- held: try again, the same state
  endrule;

  rule "consumer reads tail"
    cons[c].pc = C_READ_TAIL ==>
  begin
    if tail = PUSHES then
      cons[c].done := true;
      cons[c].pc := C_RELEASE;
    else
      cons[c].t := tail;
      cons[c].pc := C_READ_HEAD;
    endif;
  endrule;

  rule "consumer reads head"
    cons[c].pc = C_READ_HEAD ==>
  begin
    if head = cons[c].t then
      cons[c].t := 0;
      cons[c].pc := C_RELEASE;
    else
      cons[c].pc := C_READ_ENTRY;
    endif;
  endrule;

  rule "consumer reads the entry"
    cons[c].pc = C_READ_ENTRY ==>
  begin
    assert ring[cons[c].t % SLOTS] = cons[c].t + 1 "queue integrity";
    cons[c].pc := C_WRITE_TAIL;
  endrule;

  rule "consumer writes tail"
    cons[c].pc = C_WRITE_TAIL ==>
  begin
    tail := cons[c].t + 1;
    cons[c].got := cons[c].got + 1;
    cons[c].t := 0;
    cons[c].pc := C_RELEASE;
  endrule;

  rule "consumer releases the lock"
    cons[c].pc = C_RELEASE ==>
  begin
    lock := false;
    if cons[c].done then
      cons[c].got := 0;
      cons[c].pc := C_DONE;
    else
      cons[c].pc := C_LOCK;
    endif;
  endrule;

endruleset;
