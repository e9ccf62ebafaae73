# plugin.conf.sed - the Debian plugin.conf from the sample: the daemons'
# user is mailsift (the systemd units start them as mailsift already; the
# setting is for a daemon started by hand as root).
1a\
#\
# Debian: installed as /etc/mailsift/plugin.conf by the package mailsift;\
# spool /var/spool/mailsift, archive /var/lib/mailsift/archive, milter\
# socket /run/mailsift/milter.sock, the daemons run as user mailsift.
s/^user = ""$/user = mailsift/
