/*
 * Test harness: runs the button-box firmware in simavr (ATmega328P, 16 MHz) with UART0 on a
 * pseudo-terminal, so the box's real serial driver can talk to the real firmware.
 *
 *   harness FIRMWARE.elf
 *
 * stdout (one line each, flushed):
 *   PTY <path>                  the pty the firmware's UART0 is on (open it at 115200 8N1)
 *   PIN <port><bit> <0|1> <ms>  an output pin of port B changed (the LEDs), at simulated ms
 * stdin (one command per line):
 *   press <button> <ms>         hold button 1 (PD2) or 2 (PD3) down for ms of simulated time
 *   set <port><bit> <0|1>       drive an input pin, e.g. "set C0 0" = line 1 off-hook (active low)
 *   pulse <port><bit> <ms>      drive an input pin low for ms of simulated time, then high
 *                               (a ring-sense opto pulse, e.g. "pulse C2 20")
 *   quit
 * Unknown commands are reported on stderr and ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <simavr/sim_avr.h>
#include <simavr/sim_elf.h>
#include <simavr/sim_time.h>
#include <simavr/avr_ioport.h>
#include <simavr/parts/uart_pty.h>

static avr_t *avr;
static uart_pty_t uart;

static double now_ms(void) { return avr_cycles_to_usec(avr, avr->cycle) / 1000.0; }

static void pin_changed(struct avr_irq_t *irq, uint32_t value, void *param) {
  (void)irq;
  printf("PIN B%ld %u %.1f\n", (long)(intptr_t)param, value ? 1u : 0u, now_ms());
  fflush(stdout);
}

static avr_irq_t *pin_irq(char port, int bit) {
  return avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(port), bit);
}

static avr_cycle_count_t release_pin(struct avr_t *a, avr_cycle_count_t when, void *param) {
  (void)a; (void)when;
  avr_raise_irq((avr_irq_t *)param, 1);
  return 0;
}

static char line[256];
static size_t line_len;

static int handle(const char *cmd) {
  int button, ms, bit, value;
  char port;
  if (sscanf(cmd, "press %d %d", &button, &ms) == 2 && (button == 1 || button == 2) && ms > 0 && ms < 60000) {
    avr_irq_t *irq = pin_irq('D', button == 1 ? 2 : 3);
    avr_raise_irq(irq, 0);
    avr_cycle_timer_register_usec(avr, (uint32_t)ms * 1000u, release_pin, irq);
  } else if (sscanf(cmd, "pulse %c%d %d", &port, &bit, &ms) == 3 && port >= 'B' && port <= 'D' && bit >= 0 && bit < 8 && ms > 0 && ms < 60000) {
    avr_irq_t *irq = pin_irq(port, bit);
    avr_raise_irq(irq, 0);
    avr_cycle_timer_register_usec(avr, (uint32_t)ms * 1000u, release_pin, irq);
  } else if (sscanf(cmd, "set %c%d %d", &port, &bit, &value) == 3 && port >= 'B' && port <= 'D' && bit >= 0 && bit < 8) {
    avr_raise_irq(pin_irq(port, bit), value ? 1 : 0);
  } else if (strncmp(cmd, "quit", 4) == 0) {
    return 1;
  } else if (cmd[0] != '\0') {
    fprintf(stderr, "harness: unknown command \"%s\" (press N MS | set PORTBIT 0|1 | pulse PORTBIT MS | quit)\n", cmd);
  }
  return 0;
}

/* Reads whatever stdin has without blocking; returns 1 on quit or end of input. */
static int poll_stdin(void) {
  struct pollfd p = { .fd = 0, .events = POLLIN };
  while (poll(&p, 1, 0) > 0) {
    char c;
    ssize_t n = read(0, &c, 1);
    if (n <= 0) return 1;
    if (c == '\n') {
      line[line_len] = '\0';
      line_len = 0;
      if (handle(line)) return 1;
    } else if (line_len < sizeof line - 1) {
      line[line_len++] = c;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: harness FIRMWARE.elf\n");
    return 2;
  }
  elf_firmware_t fw;
  memset(&fw, 0, sizeof fw);
  if (elf_read_firmware(argv[1], &fw) != 0) {
    fprintf(stderr, "harness: cannot read firmware %s\n", argv[1]);
    return 1;
  }
  avr = avr_make_mcu_by_name("atmega328p");
  if (!avr) {
    fprintf(stderr, "harness: simavr has no atmega328p core\n");
    return 1;
  }
  avr_init(avr);
  avr_load_firmware(avr, &fw);
  avr->frequency = 16000000;
  avr->log = 0;

  /* Buttons and line-sense inputs idle high (pull-ups on the real board). */
  avr_raise_irq(pin_irq('D', 2), 1);
  avr_raise_irq(pin_irq('D', 3), 1);
  for (int b = 0; b < 4; b++) avr_raise_irq(pin_irq('C', b), 1);
  for (long b = 0; b < 6; b++) avr_irq_register_notify(pin_irq('B', (int)b), pin_changed, (void *)(intptr_t)b);

  uart_pty_init(avr, &uart);
  uart_pty_connect(&uart, '0');
  printf("PTY %s\n", uart.pty.slavename);
  fflush(stdout);

  for (unsigned long i = 0;; i++) {
    int state = avr_run(avr);
    if (state == cpu_Done || state == cpu_Crashed) {
      fprintf(stderr, "harness: firmware stopped (state %d)\n", state);
      break;
    }
    if ((i & 0x3ff) == 0 && poll_stdin()) break;
  }
  uart_pty_stop(&uart);
  return 0;
}
