/* consentctl's commands that act as a party, through libconsent. */
#ifndef CB_CTL_H
#define CB_CTL_H

int ctl_request(int argc, char **argv);
int ctl_fetch(int argc, char **argv);
int ctl_verify(int argc, char **argv);

#endif
